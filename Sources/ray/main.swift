import RayCLI

RayCommand.main()
